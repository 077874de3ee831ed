# syntax=docker/dockerfile:1
# The hardway operator's container image:
#   docker build -t ghcr.io/hardway-dev/hardway-operator:0.1.0 .
# Three stages: compile TypeScript with every dependency; install production dependencies only; copy both
# into a slim Node.js LTS runtime that runs as an unprivileged user (UID/GID 65532, no shell needed) with a
# read-only root filesystem (the chart mounts /tmp). The operator listens on 8080 for /metrics, /healthz and
# /readyz. Build for another Node.js LTS line with --build-arg NODE_VERSION=<major>.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
# Files stay owned by root and read-only to the process; it runs as 65532 (not the image's "node" user, so
# a numeric UID satisfies runAsNonRoot without a lookup).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/main.js"]
