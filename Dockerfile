# The pipeline's processes (stream worker, sink, aggregate builder) in one image.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY usage_pipeline usage_pipeline
COPY broker broker
COPY schemas schemas
COPY producers producers
COPY streams streams
COPY aggregates aggregates
COPY audit audit
COPY subjects subjects
# The default policy: streams/policy/anonymization.yaml links to it; the wheel holds a copy.
COPY config config
RUN pip install --no-cache-dir .
RUN useradd --system --uid 10001 pipeline && mkdir -p /lake && chown pipeline /lake
USER pipeline
ENTRYPOINT ["usage-pipeline"]
