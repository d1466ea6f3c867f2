# openai-relay container image. Built and started by `docker compose up -d --build` (compose.yaml, docs/deploy.md).
# Two stages: the SDK image compiles, the ASP.NET Core runtime image runs. The publish is framework-dependent, so
# runtime security fixes arrive with the base image: `docker compose build --pull` picks them up (CVE-2025-55315,
# Kestrel request smuggling, was fixed that way).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /src

# Restore from the project files alone, so that editing a .cs file reuses the cached restore layer.
# NOTE: a file that restore reads (a new Directory.Build.props or Directory.Build.targets on the way to the project,
# a NuGet.config, a referenced .csproj) must be copied here too, or `publish --no-restore` below fails with NETSDK1004
# or builds against a stale asset file.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/OpenAiRelay/OpenAiRelay.csproj src/OpenAiRelay/
RUN dotnet restore src/OpenAiRelay/OpenAiRelay.csproj

COPY . .
RUN dotnet publish src/OpenAiRelay/OpenAiRelay.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime

# /data holds the usage database; compose mounts the relay-data volume here. Docker seeds a new, empty named
# volume with the owner and mode of the image's directory, so this is what makes the volume writable by `app`.
RUN install -d -m 0700 -o "$APP_UID" -g "$APP_UID" /data

WORKDIR /app
# Owned by root and read-only to the app user: the process cannot rewrite its own binaries.
COPY --from=build /app ./

# PATH: `docker compose exec relay openai-relay keys create alice` finds the admin verbs.
# BIND_ADDRESS: inside the container the relay must listen on all interfaces to be reachable through the published
#   port; compose publishes it on the host's 127.0.0.1 only.
# ASPNETCORE_HTTP_PORTS: the base image sets 8080; the relay listens on BIND_ADDRESS:PORT, and clearing this keeps
#   Kestrel from warning at every start that it overrides an address nobody asked for.
# Logging: one JSON object per line, for log shippers and `docker compose logs | jq`.
ENV PATH="/app:${PATH}" \
    BIND_ADDRESS=0.0.0.0 \
    PORT=3001 \
    RELAY_DATA_DIR=/data \
    ASPNETCORE_HTTP_PORTS="" \
    Logging__Console__FormatterName=json

# The built-in non-root user of the .NET images (app, UID 1654).
USER $APP_UID
EXPOSE 3001

# The runtime image has no curl or wget: the relay checks itself (`openai-relay healthcheck` exits 0 when
# http://127.0.0.1:$PORT/healthz answers 200).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/app/openai-relay", "healthcheck"]

# Exec form: no shell in between, so SIGTERM from `docker stop` reaches the relay, which then drains in-flight
# requests for Relay__ShutdownTimeout (30 s). compose.yaml adds `init: true`, and tini forwards the signal.
ENTRYPOINT ["/app/openai-relay"]
