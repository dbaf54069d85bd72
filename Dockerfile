# oxistore — multi-stage image on Debian bookworm.
#   docker build -t oxistore .
#   docker run -d -p 6379:6379 -v oxdata:/data oxistore --requirepass change-me
# Arguments after the image name are "--directive value" pairs appended to the
# ENTRYPOINT's, and the last one given wins (as with redis-server): --port 6380,
# --bind 127.0.0.1, --appendfsync everysec … README.md, "Docker", says more.
# Package lists live in scripts/deps.sh; tests/docker/test_dockerfile.sh runs this file's
# build-stage steps on the host and checks the rest of it.

# Build stage: compiler and -dev packages.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh --image-build
COPY . .
RUN make -j"$(nproc)" all

# Runtime stage: the runtime libraries (and redis-cli, for HEALTHCHECK) only.
FROM debian:bookworm-slim
COPY --from=build /src/scripts/deps.sh /tmp/deps.sh
RUN /tmp/deps.sh --image-runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
    && useradd --system --uid 999 --user-group --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin oxistore \
    && mkdir -p /data /run/oxistore \
    && chown oxistore:oxistore /data /run/oxistore
COPY --from=build /src/build/rel/oxistore-server /usr/local/bin/oxistore-server
COPY conf/oxistore.conf /etc/oxistore/oxistore.conf
USER oxistore
WORKDIR /data
VOLUME /data
EXPOSE 6379
# Over the unix socket: it answers whatever --port or --bind say, and protected mode lets
# local sockets in. With --requirepass set, PING gets -NOAUTH: the server is answering.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD redis-cli -s /run/oxistore/oxistore.sock ping | grep -Eq '^(PONG|NOAUTH)' || exit 1
# Inside the container the server must listen on every interface (IPv6 if there is one:
# "-" makes it optional). Clients through a published port come from the bridge, not from
# loopback, so protected mode refuses them until a password is set (--requirepass) or
# protected mode is turned off (--protected-mode no): no open server by accident.
ENTRYPOINT ["oxistore-server", "/etc/oxistore/oxistore.conf", "--bind", "0.0.0.0 -::", "--dir", "/data", "--unixsocket", "/run/oxistore/oxistore.sock"]
