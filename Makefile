# The scripts do the work; these are their short names.
.PHONY: release test-packages

# The .debs (amd64, arm64) and the Windows zip, with SHA256SUMS, in build/release.
release:
	bash scripts/release.sh

# file, lintian, the .deb in a fresh Debian 12, and a second build that must be the same bytes.
test-packages: release
	bash scripts/test-packages.sh --dir build/release --repro
