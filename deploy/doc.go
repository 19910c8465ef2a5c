// Package deploy holds firebreak's deployment files: the container image
// (Dockerfile, built from the repository root, .dockerignore beside go.mod),
// the NATS JetStream cluster configuration (nats/nats-N.conf), and, at the
// repository root, docker-compose.yml, which runs them all. See
// docs/deploy.md.
//
// There is no Go code here. The package's tests parse those files and check
// them against the code they deploy: every service of internal/app runs in
// one container from this image, each FIREBREAK_* variable is a real flag,
// the NATS nodes form one cluster that can hold replicas-3 streams.
package deploy
