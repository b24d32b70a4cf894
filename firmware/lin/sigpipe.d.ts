// sigpipe.js / sigpipe.c (lin only): ignore SIGPIPE so a lost broker is a socket error, not a dead simulator.
export default function ignoreSigpipe(): void;
