"""The anonymization policy: the file compliance reviews, compiled into plans."""
