// The page's client of POST /v1/chat/completions with stream:true: OpenAI's Server-Sent Events,
// read from fetch() so that aborting the request closes the connection (the server then
// cancels the generation and frees its slot).

export class ChatError extends Error {}

function authHeaders(apiKey) {
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  return headers;
}

// The server's error message from a failed response, whatever its body.
async function errorFromResponse(response) {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body could not be read: the status says enough
  }
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      return new ChatError(`The server answered ${response.status}: ${body.error.message || body.error}`);
    }
  } catch {
    // not JSON
  }
  const detail = text.trim().slice(0, 300);
  return new ChatError(`The server answered ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}`);
}

function unreachable(error) {
  return new ChatError(
    `Cannot reach the server at ${location.origin} (is ember serve still running?): ${error.message}`);
}

// GET a JSON endpoint of this server.
export async function getJson(path, apiKey) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders(apiKey) });
  } catch (error) {
    throw unreachable(error);
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response.json();
}

// Streams one chat completion. `body` is the request without `stream`; `onChunk` gets each
// parsed chat.completion.chunk. Resolves when the stream ends ([DONE]); rejects with a
// ChatError (server error, unreachable server, error event mid-stream) or the AbortError of
// `signal`.
export async function streamChat(body, { apiKey, signal, onChunk }) {
  let response;
  try {
    response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: authHeaders(apiKey),
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw unreachable(error);
  }
  if (!response.ok) throw await errorFromResponse(response);

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    let part;
    try {
      part = await reader.read();
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ChatError(`The connection to the server broke during the reply: ${error.message}`);
    }
    if (part.done) break;
    buffer += decoder.decode(part.value, { stream: true });
    // Events are separated by a blank line; each of ours is one "data:" line.
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') return;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new ChatError(`The server sent an event that is not JSON: ${data.slice(0, 200)}`);
      }
      if (chunk.error) {
        throw new ChatError(`The server reported an error: ${chunk.error.message || JSON.stringify(chunk.error)}`);
      }
      onChunk(chunk);
    }
  }
  throw new ChatError('The server closed the stream before it was complete');
}
