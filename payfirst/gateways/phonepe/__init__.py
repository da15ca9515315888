"""PhonePe adapter: the v2 REST API spoken directly over httpx, behind the Gateway Protocol."""
