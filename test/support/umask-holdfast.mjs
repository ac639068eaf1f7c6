// bin/holdfast.js under the umask given as the first argument (octal), as a
// user with that umask would run it: `node umask-holdfast.mjs 000 backup ...`.
process.umask(Number.parseInt(process.argv[2], 8));
process.argv.splice(2, 1);
await import('../../bin/holdfast.js');
