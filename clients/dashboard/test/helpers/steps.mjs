// Steps of one browser session build on each other: once one fails, the rest
// are skipped (naming the step that failed) rather than piling up errors.
// step.failed() names the step that failed, if one did.
export function chainedSteps(t) {
  let failedStep = null;
  const step = (name, fn) =>
    t.test(name, failedStep ? { skip: `an earlier step failed (${failedStep})` } : {}, async (st) => {
      try {
        await fn(st);
      } catch (err) {
        failedStep = name;
        throw err;
      }
    });
  step.failed = () => failedStep;
  return step;
}
