// The login page: posts name and password, then goes to the console.
'use strict';
document.getElementById('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('login-error');
  const button = document.getElementById('login-button');
  error.hidden = true;
  button.disabled = true;
  try {
    const response = await fetch('/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'ejob-console', 'X-Ejob-Csrf': 'login' },
      body: JSON.stringify({
        name: document.getElementById('name').value,
        password: document.getElementById('password').value,
      }),
    });
    if (response.ok) {
      location.replace('/' + (location.hash || ''));
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = body.error || `login failed (${response.status})`;
    error.hidden = false;
  } catch (e) {
    error.textContent = `cannot reach the console: ${e.message}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
