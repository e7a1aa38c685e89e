"""Stream processing: consent, anonymization policy, routing, the faust worker and the lake sink."""
