# holdfast as an image: Node, the engines' client tools, zstd and restic, all
# from Debian packages; `holdfast serve` by default, with the Docker socket
# mounted to back up the containers of a stack (examples/compose/).
#
#   docker build -t holdfast:local .
#   docker run -d --init -v /var/run/docker.sock:/var/run/docker.sock \
#     -v ./holdfast.yml:/etc/holdfast/holdfast.yml:ro -v holdfast-repo:/var/lib/holdfast/repo holdfast:local
#
# BASE must be Debian 13 (trixie) or newer: Node 20 (holdfast needs >= 20) is
# its nodejs package. Without a registry, build it FROM a local Debian image
# (e.g. a debootstrap'ed rootfs `docker import`ed as debian:trixie-slim).
#
# Two routes to the same image (keep them alike: programs, paths, user 10001,
# ENV, ENTRYPOINT, CMD):
#   1. this Dockerfile, with a registry (apt inside the build);
#   2. without one, as CI does: `bash scripts/images/build.sh holdfast` assembles
#      holdfast:local FROM scratch from this machine's installed Debian packages
#      (node, postgresql-client-15, mariadb-client, mariadb-backup, zstd, restic,
#      tar, setpriv, ca-certificates, tzdata + their libraries), the MongoDB
#      tools of scripts/install/mongodb.sh and holdfast's `npm pack` tarball
#      installed with production dependencies (fixtures/images/holdfast/Dockerfile);
#      ~25 s cold, cached by an input fingerprint.
ARG BASE=debian:trixie-slim

# --- the MongoDB Database Tools: not packaged by Debian; built from their Go
# module by the project's own install script (pinned version and checksum).
FROM ${BASE} AS mongo-tools
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends golang-go ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/install/ /src/scripts/install/
RUN HOLDFAST_TEST_CACHE=/opt/mongo /src/scripts/install/mongodb.sh

# --- holdfast itself: `npm pack` (its prepack builds dist/), then the tarball
# installed with its production dependencies only, as users of npm get it.
FROM ${BASE} AS app
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json README.md ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY bin/ bin/
COPY src/ src/
COPY drivers/ drivers/
COPY bench/ bench/
COPY test/ test/
RUN npm pack --pack-destination /tmp \
 && mkdir -p /opt/holdfast \
 && cd /opt/holdfast \
 && echo '{"name":"holdfast-image","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund --loglevel=error /tmp/holdfast-*.tgz

# --- the image
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nodejs ca-certificates tzdata tar zstd restic util-linux \
      postgresql-client mariadb-client mariadb-backup \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/holdfast --shell /usr/sbin/nologin holdfast \
 && mkdir -p /etc/holdfast /var/lib/holdfast/repo /var/lib/holdfast/state \
 && chown -R holdfast:holdfast /var/lib/holdfast
COPY --from=mongo-tools /opt/mongo/bin/mongodump /opt/mongo/bin/mongorestore /opt/mongo/bin/bsondump /usr/local/bin/
COPY --from=app /opt/holdfast/ /opt/holdfast/
RUN ln -s /opt/holdfast/node_modules/.bin/holdfast /usr/local/bin/holdfast && holdfast --version
ENV HOLDFAST_CONFIG=/etc/holdfast/holdfast.yml \
    HOLDFAST_STATE_DIR=/var/lib/holdfast/state \
    NODE_ENV=production
WORKDIR /var/lib/holdfast
# Root by default: the Docker socket is root's. Without Docker (S3, databases
# over the network) run it as holdfast (--user 10001).
EXPOSE 9464
# SIGTERM: serve finishes the running job within serve.grace, then stops cleanly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["holdfast"]
CMD ["serve"]
