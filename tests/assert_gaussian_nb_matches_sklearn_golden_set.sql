-- Parity with scikit-learn: the SQL scoring of every golden case must give
-- scikit-learn's label and its probabilities within 1e-9. Returns the cases
-- that differ, plus one row when the golden set is empty or was computed
-- for another model (regenerate it with the model: training.make_golden_set).

{%- set model = image_quality.gaussian_nb_model(ref('gaussian_nb_params')) %}
{%- set tolerance = 1e-9 %}

with golden as (
    select * from {{ ref('gaussian_nb_golden') }}
),

scored as (
    {{ image_quality.gaussian_nb_score(
        features=ref('gaussian_nb_golden'),
        key_columns=['case_id'],
        params=ref('gaussian_nb_params'),
        label_column='predicted_label'
    ) | indent(4) }}
),

compared as (
    select
        golden.case_id,
        golden.model_version as golden_model_version,
        scored.model_version,
        golden.expected_label,
        scored.predicted_label,
        {% for class_label in model.classes -%}
        abs(scored.p_{{ class_label }} - golden.expected_p_{{ class_label }}) as abs_diff_{{ class_label }}{{ ',' if not loop.last }}
        {% endfor %}
    from golden
    left join scored
        on scored.case_id = golden.case_id
),

differing as (
    select
        case_id,
        golden_model_version,
        model_version,
        expected_label,
        predicted_label
    from compared
    where model_version is null
        or model_version <> golden_model_version
        or predicted_label is null
        or predicted_label <> expected_label
        {% for class_label in model.classes -%}
        or not {{ image_quality.is_finite('abs_diff_' ~ class_label) }}
        or abs_diff_{{ class_label }} > {{ tolerance }}
        {% endfor %}
),

empty_golden_set as (
    select
        null as case_id,
        'golden set is empty' as golden_model_version,
        null as model_version,
        null as expected_label,
        null as predicted_label
    from (select count(*) as cases from golden) as counted
    where counted.cases = 0
),

final as (
    select * from differing
    union all
    select * from empty_golden_set
)

select * from final
