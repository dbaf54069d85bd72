# oxistore — multi-stage image on Debian bookworm.
#   docker build -t oxistore .
#   docker run -p 6379:6379 -v oxdata:/data oxistore [--requirepass secret] [--port 6380 …]
# Build stage: compilers and -dev packages. Runtime stage: the runtime libraries only.
FROM debian:bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends build-essential pkg-config liblmdb-dev libevent-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends liblmdb0 libevent-2.1-7 libevent-pthreads-2.1-7 redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /data --shell /usr/sbin/nologin oxistore \
    && mkdir -p /data && chown oxistore:oxistore /data
COPY --from=build /src/build/rel/oxistore-server /usr/local/bin/oxistore-server
COPY conf/oxistore.conf /etc/oxistore/oxistore.conf
USER oxistore
WORKDIR /data
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=10s --timeout=3s CMD redis-cli -p 6379 ping | grep -q PONG || exit 1
# Inside the container the server must listen on every interface; protected mode still
# refuses non-loopback clients until a password is set (--requirepass).
ENTRYPOINT ["oxistore-server", "/etc/oxistore/oxistore.conf", "--bind", "0.0.0.0 ::", "--dir", "/data"]
