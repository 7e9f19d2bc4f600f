'use strict';
// Command-line options shared by bench.js and soak.js.

/** Number option value: finite, >= min, whole if int; otherwise a message naming the option. */
function num(name, v, { int = false, min = 0 } = {}) {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) {
    throw new Error(`${name} needs a ${int ? 'whole ' : ''}number >= ${min}, got ${v}`);
  }
  return n;
}

/**
 * Walks argv. `handlers` maps an option to a function: one taking an argument is given
 * the option's value (and the option's name), one taking none is a flag. -h/--help
 * prints usage() and exits; anything else unknown throws with the usage text.
 */
function parseOptions(argv, handlers, usage) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${usage()}\n`);
      process.exit(0);
    }
    const h = Object.prototype.hasOwnProperty.call(handlers, a) ? handlers[a] : null;
    if (!h) {
      throw new Error(`unknown option ${a}\n${usage()}`);
    }
    if (h.length === 0) {
      h();
      continue;
    }
    if (i + 1 >= argv.length) {
      throw new Error(`${a} needs a value`);
    }
    h(argv[++i], a);
  }
}

module.exports = { num, parseOptions };
