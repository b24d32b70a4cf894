# xsfleet: one image for every process of the cloud tier.
#
#   docker build -t xsfleet .
#   docker run --network host xsfleet cloud --roles ingest,api --nats-servers nats://127.0.0.1:4222
#   docker run --network host --no-healthcheck xsfleet sim --broker mqtt://127.0.0.1:1883 --devices 20
#   docker run --network host --entrypoint node xsfleet --import tsx cloud/controlplane/main.ts --id 1 …
#   docker run --network host --entrypoint node xsfleet --import tsx cloud/dashboard/standalone.ts --nats …
#
# deploy/docker-compose.yml runs the whole tier from it. The entry point is
# the `xsfleet` CLI (default: `xsfleet cloud`, settings from XSFLEET_* env);
# the healthcheck asks the cloud node's /healthz on XSFLEET_HTTP_PORT (9464).
#
# The bases are build arguments so machines without an image registry can
# build from local stand-ins (scripts/containers/local-base.sh); everyone
# else keeps the official Node.js 20 images.
ARG BUILD_BASE=node:20-bookworm
ARG RUNTIME_BASE=node:20-bookworm-slim

# --- build: production dependencies, native addons compiled here ---------
# node:20-bookworm has python3, make and g++ for node-gyp (zstd-napi builds
# from source when no prebuilt binary can be fetched).
FROM ${BUILD_BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "for (const m of ['zstd-napi', 'lz4-napi', 'snappy']) require(m)" \
 && npm cache clean --force

# --- runtime: no compiler, no npm cache, not root -------------------------
FROM ${RUNTIME_BASE}
ENV NODE_ENV=production \
    XSFLEET_HTTP_HOST=0.0.0.0 \
    XSFLEET_HTTP_PORT=9464
WORKDIR /app
# Owned by root, so the service user cannot change its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json tsconfig.base.json ./
COPY bin ./bin
COPY shared ./shared
COPY cloud ./cloud
COPY firmware ./firmware
COPY data ./data
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# /data: the one writable place (control-plane WAL, sim device flash); a
# volume mounted there starts with this owner.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs", "http"]
ENTRYPOINT ["node", "bin/xsfleet.mjs"]
CMD ["cloud"]
