"""A data subject's rights: export everything the pipeline holds about one subject, or erase it.

`usage-pipeline subject export ID` and `usage-pipeline subject erase ID` share one locator
(`subjects.locate`) that finds a subject's records in the lake, the consent topic and table,
and the dead-letter topic; `docs/erasure.md` explains what erasure does and why.
"""
