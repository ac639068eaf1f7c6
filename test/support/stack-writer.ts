/** The app of the test stack: counts, logs each count, and on SIGTERM finishes its step and records where it stopped. */
export const WRITER = 'i=$(cat /data/counter 2>/dev/null || echo 0); trap "stop=1" TERM; while [ -z "$stop" ]; do i=$((i+1)); echo $i > /data/counter; echo "line $i" >> /data/log; sleep 0.05; done; echo "stop $i" >> /data/events';
