namespace Loom.Server.Protocol;

/// <summary><c>GET /v1/models</c>: the one served model.</summary>
public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, int MaxModelLen);

/// <summary><c>GET /health</c>.</summary>
public sealed record HealthStatus(string Status);
