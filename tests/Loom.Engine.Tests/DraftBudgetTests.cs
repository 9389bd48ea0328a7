using Loom.Engine.Speculative;

namespace Loom.Engine.Tests;

/// <summary>The back-off: draft tokens are run while their expected worth pays for what they add to the pass.</summary>
public class DraftBudgetTests
{
    private static StepCostModel Costs(params double[] secondsByTokens)
    {
        var m = new StepCostModel(64);
        for (int t = 0; t < secondsByTokens.Length; t++) m.Record(t + 1, secondsByTokens[t]);
        return m;
    }

    [Fact]
    public void A_flat_cost_runs_every_draft_token()
    {
        var cost = Costs(1, 1, 1, 1, 1, 1);
        Assert.Equal(5, DraftBudget.Choose(1, [0.8, 0.64, 0.5, 0.4, 0.3], 31, cost));
    }

    [Fact]
    public void A_cost_in_proportion_to_tokens_runs_none()
    {
        // Bound by arithmetic: each token costs a whole pass, and no draft token is worth a whole token.
        var cost = Costs(1, 2, 3, 4, 5, 6);
        Assert.Equal(0, DraftBudget.Choose(1, [0.9, 0.8, 0.7, 0.6, 0.5], 31, cost));
    }

    [Fact]
    public void A_cost_that_rises_after_two_tokens_runs_one()
    {
        // As measured on the 1B shape on two busy cores: two tokens cost one pass, six cost 2.6.
        var cost = Costs(0.19, 0.19, 0.33, 0.47, 0.5, 0.5);
        Assert.Equal(1, DraftBudget.Choose(1, [0.55, 0.3, 0.17, 0.09, 0.05], 31, cost));
    }

    [Fact]
    public void The_cap_and_an_unmeasured_model_bound_the_grant()
    {
        Assert.Equal(3, DraftBudget.Choose(1, [0.9, 0.8, 0.7, 0.6], 3, new StepCostModel(64)));
        Assert.Equal(0, DraftBudget.Choose(8, [0.9], 0, Costs(1)));
    }

    [Fact]
    public void Estimates_never_fall_with_more_tokens_and_try_untried_sizes()
    {
        var cost = Costs(1, 0, 3);
        Assert.Equal(1, cost.Estimate(2)); // unmeasured: the nearest smaller measurement
        Assert.Equal(3, cost.Estimate(5));
        var onlyLarge = new StepCostModel(64);
        onlyLarge.Record(10, 2);
        Assert.Equal(2, onlyLarge.Estimate(1));
    }
}
