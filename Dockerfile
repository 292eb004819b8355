# An example container image of vigil, built from Debian 12 in two stages: the
# first builds the Debian package (binary, dashboard, configuration), the
# second installs it into a slim image and runs it as the package's user.
#   docker build -t vigil .
#   docker run -p 8000:8000 -e VIGIL_JWT_SECRET="$(openssl rand -hex 32)" -v vigil-data:/var/lib/vigil vigil
# io_uring is off: Docker's (>= 25) and containerd's (>= 2.0) default seccomp
# profiles forbid it, and a binary built with it would not start there
# (docs/decisions/0004-io-uring-patch.md).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        g++ cmake ninja-build pkg-config patch dpkg-dev file ca-certificates \
        libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libjwt-dev \
        libsqlite3-dev libpq-dev libhiredis-dev libpng-dev libjemalloc-dev libspdlog-dev libfmt-dev libcli11-dev \
        libtomlplusplus-dev nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DVIGIL_IO_URING=OFF -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF \
    && cmake --build /build \
    && cd /build && cpack -G DEB

FROM debian:12-slim
COPY --from=build /build/vigil_*.deb /tmp/
# The package's postinst makes a secret for a host install; an image must not
# carry one: it comes from the environment (VIGIL_JWT_SECRET) at run time.
RUN apt-get update && apt-get install -y --no-install-recommends /tmp/vigil_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/vigil_*.deb /etc/vigil/vigil.env
USER vigil
WORKDIR /var/lib/vigil
VOLUME /var/lib/vigil
EXPOSE 8000
ENTRYPOINT ["/usr/bin/vigil", "serve", "--config", "/etc/vigil/vigil.toml"]
