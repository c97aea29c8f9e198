# The one rcm binary, as the manifests in deploy/k8s run it: entrypoint rcm,
# non-root uid 65532, read-only root filesystem.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/rcm ./cmd/rcm

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rcm /usr/local/bin/rcm
USER 65532:65532
ENTRYPOINT ["rcm"]
