"""One module per job: wiring only (source -> operators -> sinks), CLI args and config."""
