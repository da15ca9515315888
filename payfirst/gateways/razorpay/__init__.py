"""Razorpay adapter: the official SDK behind the Gateway Protocol."""
