// LANES datapaths of the general current-based LIF neuron sharing the NEURONS membranes and
// synaptic currents (the state SRAM of the chip, modelled as registers so a reset clears it in one
// cycle). One lane group per beat, q::neuron_step_int bit for bit (docs/numerics.md §4.8a), with
// each lane's parameters from the neuron parameter table:
//   current: x_src = i, i <- sat(i + (((x - i) * di) >>> 12));  otherwise x_src = x
//   u = bias + x_src - (leak ? v : 0);  v <- sat(v + ((u * dv) >>> 12))
//   spike = reset_mode != 2 && (fire_ge ? v >= theta : v > theta)
//   spike: v <- reset_mode == 0 ? v_reset : sat(v - theta)
// SpikeGPT's LIF (the table's reset value) is dv = 2048, leak, theta 256, fire_ge, reset to 0:
// v + ((x - v) >>> 1), the rule of docs/numerics.md §4.8.
// Outputs are registered: the group's spikes and post-update membranes, one cycle after the beat.
// A held beat (in_hold: a readout tick) leaves the state as it is, reports the membranes, no spikes.
`default_nettype none

module neuron_unit #(
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int MEM_W   = 16,            // >= 10 so that SpikeGPT's threshold 256 is representable
    localparam int RATE_W = 13,            // dv, di: unsigned Q.12 in [0, 4096]
    localparam int GROUPS = NEURONS / LANES,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1
) (
    input  logic                    clk,
    input  logic                    rst_n,   // synchronous: every membrane and current back to 0
    input  logic                    in_valid,
    input  logic                    in_hold,
    input  logic [G_W-1:0]          in_group,
    input  logic [LANES*MEM_W-1:0]  in_current,          // x: the requantized input current
    // the group's parameters (neuron_param_table's read port)
    input  logic [LANES*RATE_W-1:0] in_dv,
    input  logic [LANES*RATE_W-1:0] in_di,
    input  logic [LANES-1:0]        in_current_stage,
    input  logic [LANES-1:0]        in_leak,
    input  logic [LANES-1:0]        in_fire_ge,
    input  logic [LANES*2-1:0]      in_reset_mode,
    input  logic [LANES*MEM_W-1:0]  in_bias,
    input  logic [LANES*MEM_W-1:0]  in_theta,
    input  logic [LANES*MEM_W-1:0]  in_v_reset,
    output logic                    out_valid,
    output logic [G_W-1:0]          out_group,
    output logic [LANES-1:0]        out_spikes,
    output logic [LANES*MEM_W-1:0]  out_membrane
);
    // One width for every intermediate: the largest is u * dv, u = bias + x - v spanning MEM_W + 2
    // bits and dv (made signed) RATE_W + 1, so MEM_W + 16 holds each product and sum exactly.
    localparam int W = MEM_W + RATE_W + 3;
    localparam int RATE_FRAC = 12;
    localparam logic signed [W-1:0] V_MAX = {{(W - MEM_W + 1){1'b0}}, {(MEM_W - 1){1'b1}}};
    localparam logic signed [W-1:0] V_MIN = {{(W - MEM_W + 1){1'b1}}, {(MEM_W - 1){1'b0}}};
    localparam logic [1:0] RESET_TO_VALUE = 2'd0, RESET_NONE = 2'd2;

    // One lane's step, q::neuron_step_int: {spike, i, v} after it. A function, so that the block
    // below evaluates it only on an update beat.
    localparam int STEP_W = 2 * MEM_W + 1;
    function automatic logic [STEP_W-1:0] lane_step(
        input logic signed [MEM_W-1:0]  x_in, v_in, i_in, bias, theta_in, v_reset,
        input logic signed [RATE_W:0]   dv, di,      // zero-extended rates: signed, >= 0
        input logic                     current_stage, leak, fire_ge,
        input logic [1:0]               reset_mode);
        logic signed [W-1:0]     x, vo, io, theta, i_sum, x_src, u, prod, v_sum, v_sat;
        logic signed [MEM_W-1:0] i_sat, v_sub_sat, v_out;
        logic                    fire;
`ifndef SPIKETILE_MUTANT_10
        logic signed [W-1:0]     v_sub;
`endif
        x     = W'(x_in);
        vo    = W'(v_in);
        io    = W'(i_in);
        theta = W'(theta_in);
        // Current stage. A convex step (di <= 1.0), so i stays between i and x: the clamp is
        // unreachable and kept as the contract writes it.
        i_sum = io + (((x - io) * W'(di)) >>> RATE_FRAC);
        i_sat = MEM_W'(i_sum > V_MAX ? V_MAX : i_sum < V_MIN ? V_MIN : i_sum);
`ifdef SPIKETILE_MUTANT_9
        x_src = current_stage ? W'(i_sat) : x;  // the membrane sees this step's current
`else
        x_src = current_stage ? io : x;         // the previous step's current (NIR's scheme)
`endif
`ifdef SPIKETILE_MUTANT_11
        u     = W'(bias) + x_src - (leak ? vo : vo);  // leaks whatever the flag says
`else
        u     = W'(bias) + x_src - (leak ? vo : '0);
`endif
        prod  = u * W'(dv);
`ifdef SPIKETILE_MUTANT_6
        v_sum = vo + (prod >> RATE_FRAC);  // logical instead of arithmetic shift
`else
        v_sum = vo + (prod >>> RATE_FRAC);
`endif
        v_sat = v_sum > V_MAX ? V_MAX : v_sum < V_MIN ? V_MIN : v_sum;
`ifdef SPIKETILE_MUTANT_1
        fire  = reset_mode != RESET_NONE && (fire_ge ? v_sat > theta : v_sat > theta);  // >= became >
`elsif SPIKETILE_MUTANT_12
        fire  = reset_mode != RESET_NONE && (fire_ge ? v_sat >= theta : v_sat >= theta);  // > became >=
`else
        fire  = reset_mode != RESET_NONE && (fire_ge ? v_sat >= theta : v_sat > theta);
`endif
`ifdef SPIKETILE_MUTANT_10
        v_sub_sat = MEM_W'(v_sat) - theta_in;  // wraps to MEM_W bits instead of saturating
`else
        // A spike means v >= theta, so v - theta only overflows upward (a negative theta).
        v_sub     = v_sat - theta;
        v_sub_sat = MEM_W'(v_sub > V_MAX ? V_MAX : v_sub);
`endif
        v_out = !fire ? MEM_W'(v_sat) : reset_mode == RESET_TO_VALUE ? v_reset : v_sub_sat;
        lane_step = {fire, i_sat, v_out};   // Yosys 0.23 takes no `return`
    endfunction

    // The state, one word per lane group (read and written whole, like the other tables).
    logic [LANES*MEM_W-1:0] v_mem [GROUPS], i_mem [GROUPS];
    logic [LANES*MEM_W-1:0] v_group, i_group, v_group_next, i_group_next;
    assign v_group = v_mem[in_group];
    assign i_group = i_mem[in_group];

    // Only an update beat needs the lanes' arithmetic: otherwise no register takes its results, so
    // they are don't-cares. That costs synthesis nothing (`opt -full` drops the x inputs of
    // multiplexers) and spares simulators LANES datapaths on every other cycle.
    // Selects of the step's result are casts and shifts: Icarus takes no constant selects here.
    logic [LANES-1:0] fire;
    always_comb begin
        logic [STEP_W-1:0] step;
        step         = 'x;
        fire         = 'x;
        v_group_next = 'x;
        i_group_next = 'x;
        if (in_valid && !in_hold) begin
            for (int l = 0; l < LANES; l++) begin
                step = lane_step(in_current[l*MEM_W +: MEM_W], v_group[l*MEM_W +: MEM_W], i_group[l*MEM_W +: MEM_W],
                                 in_bias[l*MEM_W +: MEM_W], in_theta[l*MEM_W +: MEM_W], in_v_reset[l*MEM_W +: MEM_W],
                                 {1'b0, in_dv[l*RATE_W +: RATE_W]}, {1'b0, in_di[l*RATE_W +: RATE_W]},
                                 in_current_stage[l], in_leak[l], in_fire_ge[l], in_reset_mode[l*2 +: 2]);
                fire[l] = 1'(step >> (2 * MEM_W));
                v_group_next[l*MEM_W +: MEM_W] = MEM_W'(step);
                // Only a current-stage neuron moves its current (q::neuron_step_int leaves i alone
                // otherwise).
                i_group_next[l*MEM_W +: MEM_W] = in_current_stage[l] ? MEM_W'(step >> MEM_W) : i_group[l*MEM_W +: MEM_W];
            end
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            for (int g = 0; g < GROUPS; g++) begin
                v_mem[g] <= '0;
                i_mem[g] <= '0;
            end
            out_valid <= 1'b0;
        end else begin
            out_valid <= in_valid;
            if (in_valid && in_hold) begin
                out_membrane <= v_group;
                out_spikes   <= '0;
                out_group    <= in_group;
            end else if (in_valid) begin
                v_mem[in_group] <= v_group_next;
                i_mem[in_group] <= i_group_next;
                out_membrane    <= v_group_next;
                out_spikes      <= fire;
                out_group       <= in_group;
            end
        end
    end
endmodule

`default_nettype wire
