# xsfleet cloud node image: `xsfleet cloud` with the roles from XSFLEET_ROLES.
# Build: docker build -t xsfleet .
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cloud ./cloud
COPY shared ./shared
COPY firmware ./firmware
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/xsfleet.mjs"]
CMD ["cloud", "--http-host", "0.0.0.0", "--http-port", "9464"]
