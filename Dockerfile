# syntax=docker/dockerfile:1
#
# Container image of the bridge (cmd/bridge): a static binary on distroless,
# run as a non-root user. Needs BuildKit (the default builder of Docker 23+
# and of buildx) for the cache mount and the cross-compilation arguments.
#
#   docker build -t grpcwamp-bridge:latest .
#   docker run --rm -p 8080:8080 grpcwamp-bridge:latest            # the demo clock
#   docker run --rm -p 8080:8080 --add-host=host.docker.internal:host-gateway \
#       grpcwamp-bridge:latest -listen=:8080 -upstream=host.docker.internal:50051
#                                                                  # a service on the host
#
# The tags below are pinned to a Go minor and a Debian release. For
# reproducible builds, pin the digests too (FROM image:tag@sha256:...), as
# `docker buildx imagetools inspect IMAGE` prints them, and let a bot such
# as Renovate or Dependabot update them.

# ---- build: a static Go binary -------------------------------------------
# The build stage runs on the builder's own platform and cross-compiles
# (pure Go, CGO off), so `docker buildx build --platform linux/amd64,linux/arm64`
# needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in a layer of their own: it is rebuilt only when go.mod or
# go.sum change, not on every source edit. (tools/ is a module of its own,
# for buf and the protoc plugins: the build needs none of it, since gen/ is
# committed.)
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: no libc, so the binary runs on distroless/static (or
# scratch). -trimpath drops the build machine's paths, -s -w the symbol and
# DWARF tables (stack traces keep their function names and lines).
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /bridge ./cmd/bridge

# ---- run: distroless, non-root -------------------------------------------
# static-debian12 holds CA certificates (for -upstream-tls against public
# roots), tzdata and /etc/passwd with the user nonroot (65532), and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /bridge /bridge
# The image's user nonroot, by number: Kubernetes' runAsNonRoot can verify
# a numeric USER only (a name makes the kubelet refuse to start the pod
# unless the pod sets runAsUser).
USER 65532:65532
# WebSocket (ws:// or, with -tls-cert, wss://), /healthz, /readyz,
# /procedures and /metrics, all on one port.
EXPOSE 8080
# No HEALTHCHECK: the image has no shell and no curl to run one. Kubernetes
# probes GET /healthz and /readyz itself (deploy/kubernetes/); under plain
# Docker, check them from outside the container.
ENTRYPOINT ["/bridge"]
# The default listen address, 127.0.0.1:8080, would be unreachable from
# outside the container. Arguments given to `docker run` replace this CMD
# entirely, so repeat -listen=:8080 along with -upstream.
CMD ["-listen=:8080"]
