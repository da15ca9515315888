"""Gateway sandbox: Razorpay and PhonePe imitated closely enough for their official SDKs.

Mounted only in sandbox mode."""
