"""The HTTP collector: services post batches and browsers send page views over HTTP.

Events are published through ``producers.publisher.EventPublisher`` (same contracts, keys,
murmur2 partitions and idempotent producer as ``emit``), and a request is answered only
once Kafka acknowledged what it accepted. The modules are small and mostly pure: tokens,
client IP, body decoding, page-view building and rate limiting know nothing of HTTP servers;
``acks`` bridges librdkafka's delivery reports to asyncio; ``app`` wires the routes.
"""
