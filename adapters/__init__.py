"""Platform adapters: payloads in, core calls, view models rendered out, outbound ports implemented."""
