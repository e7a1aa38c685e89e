"""Stream processing: consent, anonymization policy, routing, the transactional worker, the sink."""
