using System.Diagnostics;
using System.Text.Json;

namespace Loom.Server.Tests;

/// <summary>
/// npm's <c>openai</c> package (run by Node) against the server over the tool-calling model. Skips unless
/// <c>node</c> is on PATH and the package resolves: from <c>LOOM_NODE_MODULES</c> (a node_modules folder, e.g. after
/// <c>npm install openai</c> in a temporary folder) or Node's global folder.
/// </summary>
public sealed class NodeClientTests(ToolServerFixture f) : IClassFixture<ToolServerFixture>
{
    [NodeOpenAiFact]
    public async Task The_npm_client_gets_a_call_streams_it_and_sends_the_result_back()
    {
        string script = Path.Combine(AppContext.BaseDirectory, "NodeClient", "tool-client.cjs");
        var (code, stdout, stderr) = await NodeOpenAi.RunAsync(script, f.ApiBase.ToString(), ServerFixture.ApiKey);
        Assert.True(code == 0, $"node failed ({code}): {stderr}");
        var r = JsonDocument.Parse(stdout).RootElement;

        var first = r.GetProperty("first");
        Assert.Equal("tool_calls", first.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("message").GetProperty("content").ValueKind);
        var call = first.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        string arguments = call.GetProperty("function").GetProperty("arguments").GetString()!;
        ToolCallingTests.AssertValidArguments(arguments);

        var streamed = r.GetProperty("streamed");
        Assert.Equal("tool_calls", streamed.GetProperty("finish").GetString());
        Assert.Equal("", streamed.GetProperty("content").GetString());
        var streamedCall = Assert.Single(streamed.GetProperty("calls").EnumerateArray());
        Assert.Equal("get_weather", streamedCall.GetProperty("name").GetString());
        Assert.Equal(arguments, streamedCall.GetProperty("arguments").GetString());
        Assert.StartsWith("call_", streamedCall.GetProperty("id").GetString());

        var second = r.GetProperty("second");
        Assert.Equal("stop", second.GetProperty("finish_reason").GetString());
        Assert.Equal(ToolCallingModel.Answer, second.GetProperty("message").GetProperty("content").GetString());
    }
}

internal static class NodeOpenAi
{
    private static readonly Lazy<string?> Modules = new(Find);

    public static string? SkipReason => Modules.Value is null
        ? "needs node and npm's openai package (set LOOM_NODE_MODULES to a node_modules folder that has openai)"
        : null;

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NODE_PATH"] = Modules.Value!;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    private static string? Find()
    {
        string? candidate = Environment.GetEnvironmentVariable("LOOM_NODE_MODULES") ?? Run("npm", "root", "-g");
        if (candidate is null || !Directory.Exists(Path.Combine(candidate, "openai"))) return null;
        return Run("node", "--version") is null ? null : candidate;
    }

    private static string? Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(10_000)) { p.Kill(); return null; }
            return p.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }
    }
}

public sealed class NodeOpenAiFactAttribute : FactAttribute
{
    public NodeOpenAiFactAttribute() { if (NodeOpenAi.SkipReason is { } reason) Skip = reason; }
}
