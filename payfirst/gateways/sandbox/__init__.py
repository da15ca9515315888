"""Gateway sandbox: Razorpay and PhonePe imitated closely enough for their official SDKs; mounted only in sandbox mode."""
