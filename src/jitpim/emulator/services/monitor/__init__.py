"""Azure Monitor Logs Ingestion API (data collection rules and their streams)."""
