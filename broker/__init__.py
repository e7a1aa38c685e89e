"""Local Apache Kafka broker for development and tests, and cluster administration."""
