# scripts/lib/debian-root.sh — a minimal Debian root for CI gates that must run where nothing was
# installed by hand (sourced by scripts/fresh-root and scripts/gradescope-sim; needs root and
# debootstrap).
#
#   debian_root_make SUITE      debootstrap --variant=minbase into a new folder: $DEBIAN_ROOT
#   debian_root_copy_tree DEST  this checkout into $DEBIAN_ROOT/DEST, without .git and build output
#   debian_root_mount           proc, sys, dev, dev/pts and a tmpfs on dev/shm
#   debian_root_run COMMAND     bash -c COMMAND inside, as root, with a clean environment
# debian_root_make installs an EXIT trap that kills what is left inside, unmounts and removes the
# root, even on failure or Ctrl-C. The mirror is the one this machine's apt sources already use.

DEBIAN_ROOT=""
debian_root_mounts=()

# The Debian mirror apt already uses: deb822 sources (URIs:) or one-line sources (deb URL ...).
debian_root_mirror() {
    local file
    {
        for file in /etc/apt/sources.list.d/*.sources; do
            [[ -f $file ]] && sed -n 's/^URIs: *//p' "$file" | tr ' ' '\n'
        done
        for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -f $file ]] && sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' "$file"
        done
    } | grep -E '/debian/?$' | head -n 1
}

debian_root_cleanup() {
    local pid i
    [[ -n $DEBIAN_ROOT ]] || return 0
    # Whatever a test left running inside (its root is ours) goes first, or umount would fail.
    for pid in /proc/[0-9]*; do
        [[ $(readlink "$pid/root" 2>/dev/null) == "$DEBIAN_ROOT" ]] && kill -9 "${pid#/proc/}" 2>/dev/null
    done
    for ((i = ${#debian_root_mounts[@]} - 1; i >= 0; i--)); do
        umount "${debian_root_mounts[i]}" 2>/dev/null || umount -l "${debian_root_mounts[i]}" || true
    done
    # Never remove a root that still has something mounted in it (its /dev would be the host's).
    if grep -q " $DEBIAN_ROOT/" /proc/mounts; then
        echo "debian-root: $DEBIAN_ROOT still has mounts; left in place" >&2
    else
        rm -rf --one-file-system "$DEBIAN_ROOT"
    fi
    DEBIAN_ROOT=""
}

debian_root_make() {  # suite
    local suite=$1 mirror started=$SECONDS log
    mirror=$(debian_root_mirror || true)
    [[ -n $mirror ]] || { echo "debian-root: no Debian mirror in the apt configuration" >&2; return 3; }
    DEBIAN_ROOT=$(mktemp -d /var/tmp/debian-root-"$suite".XXXXXX)
    chmod 755 "$DEBIAN_ROOT"  # apt drops to the _apt user to download: it must be able to enter the root
    trap debian_root_cleanup EXIT
    trap 'exit 130' INT TERM
    echo "debian-root: debootstrap --variant=minbase $suite (mirror from the apt configuration)"
    log=$DEBIAN_ROOT.debootstrap.log
    if ! debootstrap --variant=minbase "$suite" "$DEBIAN_ROOT" "$mirror" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        echo "debian-root: debootstrap $suite failed" >&2
        return 3
    fi
    rm -f "$log"
    cp /etc/resolv.conf "$DEBIAN_ROOT/etc/resolv.conf"
    echo "debian-root: $suite root made in $((SECONDS - started)) s"
}

debian_root_copy_tree() {  # destination inside the root
    local tree
    tree=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    mkdir -p "$DEBIAN_ROOT$1"
    tar -C "$tree" --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude=./slides/node_modules \
        -cf - . | tar -C "$DEBIAN_ROOT$1" -xf -
}

debian_root_mount() {
    local type source target
    while read -r type source target; do
        mkdir -p "$DEBIAN_ROOT$target"
        if [[ $type == bind ]]; then
            mount --bind "$source" "$DEBIAN_ROOT$target"
        else
            mount -t "$type" "$source" "$DEBIAN_ROOT$target"
        fi
        debian_root_mounts+=("$DEBIAN_ROOT$target")
    done <<'MOUNTS'
proc proc /proc
sysfs sysfs /sys
bind /dev /dev
bind /dev/pts /dev/pts
tmpfs tmpfs /dev/shm
MOUNTS
}

debian_root_run() {  # command (bash -c), run as root inside with a clean environment
    chroot "$DEBIAN_ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$1"
}
