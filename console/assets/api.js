// The console's JSON API as the page calls it, and the page's shared state.
// Every call says it comes from the page (X-Requested-With: no Basic
// dialog on 401) and every POST carries the login's CSRF token.

export const view = { me: null, state: null, route: null, timelineKey: null, timeline: null, backfills: null };

export class ApiError extends Error {
  constructor(status, body) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { 'X-Requested-With': 'ejob-console' };
  if (method !== 'GET') {
    headers['X-Ejob-Csrf'] = (view.me && view.me.csrf) || 'console';
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && view.me && view.me.users) {
    location.assign('/login' + location.hash);
    throw new ApiError(401, { error: 'logged out' });
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
