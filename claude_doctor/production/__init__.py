"""Watch a production client's streams in-process: the same checks as ``claude-doctor stream``, on the
bytes as they flow, reported to OpenTelemetry, Prometheus and a bounded flight recorder."""
