// Tool calling through npm's `openai` package against a Loom server: a forced call, the same call streamed, and a
// tool result round trip. Prints one JSON object for NodeClientTests to check. Usage: node tool-client.cjs BASE_URL KEY
const mod = require('openai');
const OpenAI = mod.OpenAI ?? mod.default ?? mod;

async function main() {
  const [baseURL, apiKey] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Get the current weather',
      parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
    },
  }];
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const request = { model: 'tools', messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, temperature: 0, max_tokens: 32 };

  const first = await client.chat.completions.create(request);

  const calls = [];
  let finish = null, content = '';
  const stream = await client.chat.completions.create({ ...request, stream: true });
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    for (const t of choice.delta.tool_calls ?? []) {
      calls[t.index] ??= { id: t.id, name: '', arguments: '' };
      calls[t.index].name += t.function?.name ?? '';
      calls[t.index].arguments += t.function?.arguments ?? '';
    }
    finish ??= choice.finish_reason;
  }

  messages.push(first.choices[0].message);
  messages.push({ role: 'tool', tool_call_id: first.choices[0].message.tool_calls[0].id, content: '{"temp": 21}' });
  const second = await client.chat.completions.create({ model: 'tools', messages, tools, temperature: 0, max_tokens: 32 });

  console.log(JSON.stringify({ first: first.choices[0], streamed: { calls, finish, content }, second: second.choices[0] }));
}

main().catch(e => { console.error(e); process.exit(1); });
