// See sigpipe.c: the lin simulator must survive a broker that goes away.
export default function ignoreSigpipe() @ "xs_xsfleet_ignore_sigpipe";
