// One request's state for a panel: loading, its data, or its error; re-run when a dependency changes, and every
// `everyMs` when given (the live figures poll). A 401 is handed to `onUnauthorized` (the page asks for a key again).
import { useEffect, useState } from 'preact/hooks';

export function useLoad(fetcher, deps, { everyMs = 0, onUnauthorized } = {}) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  useEffect(() => {
    let alive = true;
    let timer = null;
    const run = () => {
      fetcher().then(
        (data) => { if (alive) setState({ loading: false, data, error: null }); },
        (error) => {
          if (!alive) return;
          if (error.status === 401 && onUnauthorized) onUnauthorized(error);
          setState({ loading: false, data: null, error });
        },
      ).finally(() => { if (alive && everyMs > 0) timer = setTimeout(run, everyMs); });
    };
    setState((s) => ({ ...s, loading: s.data === null }));
    run();
    return () => { alive = false; if (timer) clearTimeout(timer); };
  }, deps);
  return state;
}
