using System.CommandLine;
using Loom.Engine;
using Loom.Server;

namespace Loom.Cli.Commands;

/// <summary><c>loom serve</c>: the OpenAI-compatible HTTP server over one model, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var tokenizer = ModelOptions.Tokenizer();
        var threads = ModelOptions.Threads();
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one)", DefaultValueFactory = _ => 8080 }.InRange(0, 65535);
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1/*, /tokenize and /detokenize (default: LOOM_API_KEY, else none)" };
        var maxWaiting = new Option<int>("--max-waiting") { Description = "Requests that may wait for a slot before new ones get 429", DefaultValueFactory = _ => 1024 }.InRange(0);
        var engineOptions = new EngineCliOptions();
        var servedName = new Option<string?>("--served-model-name") { Description = "Model name clients send and /v1/models lists (default: the model's name)" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "Jinja chat template file to use instead of the model's own" };

        var cmd = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API")
        {
            model, tokenizer, threads, host, port, apiKey, maxWaiting, servedName, chatTemplate,
        };
        engineOptions.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            int portValue = parse.GetValue(port);
            int waiting = parse.GetValue(maxWaiting);
            string? template = parse.GetValue(chatTemplate) is { } file ? File.ReadAllText(file) : null;
            // A template with a syntax error stops the server here, not at its first chat request.
            try { if (template is not null) _ = new Loom.Models.ChatTemplates.ChatTemplate(template); }
            catch (Loom.Models.ChatTemplates.ChatTemplateException e) { throw new ArgumentException($"--chat-template {parse.GetValue(chatTemplate)}: {e.Message}"); }
            var engineSettings = engineOptions.Apply(parse, new EngineOptions { Threads = parse.GetValue(threads), MaxWaiting = waiting });
            using var loaded = ModelOptions.Load(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), quiet: false);
            using var engine = new LlmEngine(loaded, engineSettings);
            var options = new LoomServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = portValue,
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("LOOM_API_KEY"),
                ServedModelName = parse.GetValue(servedName),
                ChatTemplate = template,
                Logging = true,
            };
            await using var server = LoomServer.Create(engine, options);
            try
            {
                await server.StartAsync(ct);
            }
            catch (IOException e)
            {
                throw new IOException($"cannot listen on {options.Host}:{portValue}: {e.Message}", e);
            }
            Console.Error.WriteLine($"loom: serving '{server.ServedModelName}' at {server.BaseAddress} (the web page; the OpenAI API under {server.BaseAddress}v1), kernels: {Loom.Core.Kernels.KernelTier.Name}; Ctrl+C stops");
            await server.WaitForShutdownAsync(ct);
            return 0;
        });
        return cmd;
    }
}
