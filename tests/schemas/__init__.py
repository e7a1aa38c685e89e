"""Tests of the event contracts (schemas/)."""
