/**
 * What-if stand-in for pino, used only by the cold-start section to measure what replacing pino
 * with a small JSON logger would save. Same surface as packages/api/src/logger.ts uses; unlike
 * pino it does not redact, which a real replacement must.
 */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

function make(bindings, min) {
  const logger = {};
  for (const [name, value] of Object.entries(LEVELS)) {
    logger[name] =
      value < min
        ? () => {}
        : (fields) =>
            process.stdout.write(
              `${JSON.stringify({ level: value, time: new Date().toISOString(), ...bindings, ...fields })}\n`,
            );
  }
  logger.child = (more) => make({ ...bindings, ...more }, min);
  return logger;
}

export default function pino(options = {}) {
  return make({}, LEVELS[options.level ?? "info"] ?? 30);
}
pino.stdTimeFunctions = { isoTime: () => `,"time":"${new Date().toISOString()}"` };
