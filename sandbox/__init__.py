"""The gateway sandbox: a Django project of its own that imitates Razorpay's and PhonePe's APIs, hosted pages and
webhooks. It runs as its own server with its own database; payfirst reaches it only over HTTP, as it would reach the
real gateways, and never imports it."""
