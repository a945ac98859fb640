// `npm run lock:complete`, after any dependency change. Adds lock entries for optional platform packages the npm mirror does not serve, so `npm ci` accepts the
// lock; they are for other platforms and are never fetched here.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [p, entry] of Object.entries({ ...lock.packages })) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = p === '' ? '' : `${p}/`;
    const key = lock.packages[`${base}node_modules/${name}`]
      ? `${base}node_modules/${name}`
      : `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const m = /(darwin|win32|linux|android|freebsd|sunos|openbsd|netbsd|aix|wasi)/.exec(name);
    const c = /(arm64|x64|ia32|arm|ppc64|s390x|riscv64|loong64|wasm32|mips64el)/.exec(name);
    lock.packages[key] = {
      version: String(range).replace(/^[\^~=]/, ''),
      optional: true,
      ...(m ? { os: [m[1]] } : {}),
      ...(c ? { cpu: [c[1]] } : {}),
    };
    added++;
  }
}
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log('added', added);
