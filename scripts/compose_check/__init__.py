"""Static checks of the deployment files (docker-compose.yml, .env.example, Dockerfile,
.dockerignore) against what the programs say about themselves (`--describe-json`) and
what Package.swift declares (`swift package dump-package`). No Docker engine needed.

Run it through scripts/check-compose.sh; see docs/deployment.md for what is checked."""
