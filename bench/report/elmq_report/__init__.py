"""The elmq benchmark report: ELMs against quantized deep models (run_report.py is the entry point).

Modules, in the order data flows through them:
    settings     presets (tiny, quick, default, full) and the command line's choices
    tools        the elmq executable and what this build of it offers
    datasets     train/test splits as .npz files for the PyTorch reference
    experiments  the experiment families (ELM, quantized ELM, MLP, quantized MLP, PyTorch)
    runner       runs experiments with a cache (report/cache/) and progress output
    machine      the machine description (CPU, SIMD, compiler, library versions)
    analysis     mean and std over seeds, Pareto fronts, the generated summary
    plots        the matplotlib figures (SVG)
    render       index.html, report.md and results.json
"""
