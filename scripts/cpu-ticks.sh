# Sourced by the bench scripts.
#
# cpu_ticks prints the user and system clock ticks used so far by every
# rcm process (rcm dev with its embedded NATS, loadgen; rcm-old and rcm-new
# in bench-compare.sh) and every postgres process (the private cluster's
# backends).
cpu_ticks() {
	local total=0 p
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in
		rcm* | postgres) total=$((total + $(awk '{print $14 + $15}' "$p/stat" 2>/dev/null || echo 0))) ;;
		esac
	done
	echo "$total"
}
