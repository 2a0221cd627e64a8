# medtune serve in a container: Node 20 on Debian bookworm-slim, the native engine built with OpenBLAS, a non-root
# user, and a health check on /health/ready. Not built in CI (base images cannot be pulled there); the start command
# below is run by src/cli/serve.test.ts exactly as written (with the model, keys and port mapped to a temp folder).
#
#   docker build -t medtune .
#   docker run -p 8080:8080 -v $PWD/run/best_model:/models/model:ro -v $PWD/keys:/keys:ro medtune
#
# Put it behind a TLS-terminating reverse proxy (docs/serving.md), or mount a certificate and add --tls-cert/--tls-key.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 libopenblas-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json binding.gyp ./
COPY scripts ./scripts
COPY native ./native
COPY src ./src
COPY bin ./bin
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app medtune
WORKDIR /app
COPY --from=build --chown=root:root /app /app
USER medtune
ENV NODE_ENV=production
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", \
    "fetch('http://127.0.0.1:8080/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/medtune.js", "serve", "--model", "model=/models/model", "--keys", "/keys/keys.json", \
    "--host", "0.0.0.0", "--port", "8080"]
