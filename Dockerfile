# Dockerfile — the course in a Debian 13 container, for students on macOS or Windows (or a Linux
# too old for the build: scripts/install-deps says so). The lessons need Linux itself (epoll,
# SO_REUSEPORT, /proc), so a container is the way there.
#
# It does nothing that the fresh-root CI gate does not already run on a minimal Debian 13 root
# (scripts/fresh-root trixie: scripts/install-deps, then make demo and make test): this image
# cannot be built in the project's CI (no container registry there), so it must not go further.
FROM debian:trixie-slim
WORKDIR /work/concurrency-servers
COPY . .
# The build packages and the test tools; not the slide tools (Chromium, Node.js): `make slides`
# installs those on demand.
RUN scripts/install-deps && make build
CMD ["bash"]
